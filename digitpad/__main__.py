from digitpad.cli import run

run()
