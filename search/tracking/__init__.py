"""What is recorded and shown of a campaign: the MLflow writer (:mod:`.tracker`), the Ray Tune
callback that logs every trial (:mod:`.trial_logger`), reading finished campaigns back
(:mod:`.lookup`) and the live progress table (:mod:`.progress`).

The names it writes (tags, params, metrics, trial states) are owned by :mod:`..schema`.
"""
