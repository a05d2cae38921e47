"""Sources of events that no webhook brings: `receiver/` takes what is pushed to eduhook; `sources/` pulls what is not."""
