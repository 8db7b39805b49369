"""What every process reads at start: its MODELGW_* settings (env.py reads each
value, process.py the ones all processes share) and how it logs (logs.py).
SettingsError is the one error a bad value raises; `modelgw` prints it and exits 2."""


class SettingsError(ValueError):
    """A setting (a MODELGW_* variable or a command-line flag) holds a value that cannot be used."""
