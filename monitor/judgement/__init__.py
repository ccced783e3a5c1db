"""The service's own reading of a run: noise, forecast, the default stopping rule and the training-loss guard.

Plain functions over numpy arrays (and small resumable states), shared by the stopping engine, the
diagnostics, the forecast endpoint and the benchmarks.
"""
