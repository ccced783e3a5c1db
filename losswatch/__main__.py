from losswatch.monitor.cli import app

app(prog_name="losswatch")
