"""MLflow on demand: the tracking server runs only while someone holds it (a training run,
an operator command, a person's `mlrails ui`), and scales to zero when the last hold ends
or expires. ``leases`` holds the rules; ``switch`` is the service the tracking_switch
function runs."""
