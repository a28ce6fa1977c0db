"""An example posecli plugin: the template for plugin authors."""

__version__ = "0.1.0"
