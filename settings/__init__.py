"""Reading a process's MODELGW_* settings: the one error a bad value raises."""


class SettingsError(ValueError):
    """A setting (a MODELGW_* variable or a command-line flag) holds a value that cannot be used."""
