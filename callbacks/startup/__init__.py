"""The folder `losswatch run` puts first on PYTHONPATH: it holds only the start-up hook, sitecustomize.py."""
