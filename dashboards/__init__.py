"""What is shown: comparison reports built from MLflow data.

Reads only the MLflow store, so a campaign run elsewhere can be reported from here. The report
and the live dashboard are not built yet; the campaign's comparison table is logged to MLflow as
``comparison.csv`` on the campaign run meanwhile.
"""
