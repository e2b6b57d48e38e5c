"""What a campaign keeps on local disk to survive a kill: the journal of every ask and tell
(:mod:`.journal`), the campaign's folder and resume (:mod:`.resume`), and the spool of MLflow
writes that could not be made yet (:mod:`.spool`).
"""
