"""The audit log: job events and registry/admin changes, shipped to S3 (or a
local directory) as compressed JSON Lines, partitioned by date and hour."""
