"""mxgan: the DCGAN of MXNet's ``example/gan``, on the Module API.

Importing :mod:`mxgan` has no side effects and does not import MXNet; the
submodules that need MXNet import it themselves.
"""

__version__ = "0.1.0"
