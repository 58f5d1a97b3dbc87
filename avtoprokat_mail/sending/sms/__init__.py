"""SMS: segment counting and (with the SMS issue) the gateways."""
