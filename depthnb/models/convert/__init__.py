"""Published weights in their authors' formats, read by name mapping (never by running the file):
DenseDepth's Keras ``.h5`` (:mod:`~depthnb.models.convert.keras_densedepth`) and FCRN's TensorFlow
``.npy`` (:mod:`~depthnb.models.convert.fcrn_release`)."""
