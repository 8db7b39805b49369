"""The execution service: job submission, polling, watching, cancelling, listing."""
