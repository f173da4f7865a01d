"""The one exception type the command line turns into a one-line message and a non-zero exit."""


class ProducerError(Exception):
    """An expected failure (unreachable service, bad input file) with a message meant for the user."""
