"""The wikistream click producer: Wikipedia clickstream walks -> ClickEvent JSON -> Kafka (or stdout).

See producer/README.md for the commands, the data model and what is synthetic.
"""
