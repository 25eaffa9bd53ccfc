"""Support for every layer above: nothing here knows about depth.

=======================  =========================================================================
module                   what it holds
=======================  =========================================================================
``utils.files``          the one atomic writer: a temporary name beside the target, then a rename
``utils.device``         picking the device and the precision, waiting for a GPU
``utils.seed``           seeding ``random``, NumPy and torch; saving and restoring their states
``utils.distributed``    distributed data parallel from the environment ``torchrun`` sets
``utils.paths``          the data folder, quick and rehearsal modes, Colab and its Drive
``utils.optional``       importing an optional package, or saying how to install it
``utils.arrays``         NumPy or torch depth maps and images to NumPy (H,W) and (H,W,3)
``utils.tensors``        precision, autocast and masked means shared by losses, metrics, geometry
=======================  =========================================================================
"""
