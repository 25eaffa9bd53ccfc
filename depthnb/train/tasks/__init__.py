"""Tasks of the one training loop: the interface (:mod:`~depthnb.train.tasks.base`), depth
regression (:mod:`~depthnb.train.tasks.depth`, the default) and mask plus depth
(:mod:`~depthnb.train.tasks.maskdepth`, lesson 12)."""
