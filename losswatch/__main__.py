from losswatch.monitor.cli import main

main()
