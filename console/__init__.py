"""The ops console: an internal web page to see the ledger and replay dead letters (`eduhook console`)."""
