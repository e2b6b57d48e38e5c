"""The campaign's final refit as Ray Tune and the MLflow trial logger see it: one trial, known
as trial 0 of the pseudo-strategy :data:`REFIT`.

With ``final.refit``, the best config of the whole campaign trains once more after every
strategy has run (:meth:`~.runner.TuneRunner.refit`), on the training split or on the training
and validation splits together, and is evaluated on the test split. Its MLflow run is a child
of the campaign run, tagged like a trial of strategy ``final``, so the comparison table, the
report and a resume find it like any trial; no strategy is asked or told about it.
"""

from __future__ import annotations

from typing import Any

REFIT = "final"
"""The refit's name where a strategy's would be: its run's ``sweepforge.strategy`` tag, its row
in the progress and comparison tables. A campaign with a refit may not name a strategy so."""

REFIT_TRIAL = (REFIT, 0)
"""The refit's (strategy, trial id) key."""


class RefitKeys:
    """What the MLflow trial logger asks the searcher about a trial, answered for the refit's
    one trial: it is trial 0 of :data:`REFIT`, and no strategy is told of it."""

    def trial_key(self, tune_id: str) -> tuple[str, int]:
        return REFIT_TRIAL

    def told(self, tune_id: str) -> Any:
        return None

    def commit_tell(self, tune_id: str) -> None:
        """Nothing to journal: the refit's state is its MLflow run and its checkpoints."""
