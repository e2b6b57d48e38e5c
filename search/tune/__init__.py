"""Everything that talks to Ray Tune:

* :mod:`.runner`: the Tune runs of a campaign; :mod:`.searcher`: the strategies behind one
  Tune searcher; :mod:`.schedulers` and :mod:`.population`: early stopping and PBT;
* :mod:`.worker`: what runs inside a worker for one trial;
* :mod:`.timeout`, :mod:`.interrupt`, :mod:`.memory`: trial deadlines, Ctrl-C and SIGTERM
  between two steps of Tune's loop, the master's memory over long campaigns;
* :mod:`.checkpoints`: trial folders and checkpoints; :mod:`.ray_setup`: starting or joining Ray;
* :mod:`._compat`: every private Ray API sweepforge relies on.

Nothing is imported here: a Ray worker imports :mod:`.worker` alone, without Optuna or MLflow.
"""
