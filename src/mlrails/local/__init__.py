"""The local runtime: the deployed graph on one machine, against moto and a local MLflow.

What runs here is the wiring that deploys (:mod:`mlrails.wiring`): the same routes become
moto EventBridge rules whose targets are SQS queues (moto matches the patterns; it cannot
invoke Lambda), the same schedules fire from a virtual clock, and the real handlers are
loaded from ``functions/<name>/handler.py`` exactly as Lambda loads them: by path.
"""
