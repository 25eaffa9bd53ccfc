"""The command line, ``python -m depthnb SUBCOMMAND``: the parser and the exit codes in
:mod:`depthnb.cli.main`, one module per subcommand (train, evaluate, predict, download, bench,
export, exercises), each with the body the parser calls. Building the parser imports no torch."""
