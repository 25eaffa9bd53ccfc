"""The command line, ``python -m depthnb SUBCOMMAND``: the top parser, the dispatch and the exit
codes in :mod:`depthnb.cli.main`; one module per subcommand (train, evaluate, predict, download,
bench, export, exercises), each adding its own parser, options and handler (``add_parser``); the
options several share in :mod:`depthnb.cli.options`, the figures in :mod:`depthnb.cli.figure`.
Building the parser imports no torch."""
