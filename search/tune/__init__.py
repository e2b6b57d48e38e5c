"""Everything that talks to Ray Tune: the searcher that drives the strategies
(:mod:`.searcher`), schedulers and PBT (:mod:`.schedulers`, :mod:`.population`), what runs in a
worker for one trial (:mod:`.worker`), per-trial deadlines (:mod:`.timeout`), Ctrl-C between
two steps of Tune's loop (:mod:`.interrupt`), the master's memory (:mod:`.memory`), trial
folders and checkpoints (:mod:`.checkpoints`) and how Ray is started (:mod:`.ray_setup`).

Nothing is imported here: a Ray worker imports :mod:`.worker` alone, without Optuna or MLflow.
"""
