"""The converted Xception against Keras's own forward: max abs difference of the feature maps on one random image.

Needs keras (any backend; foodcam does not depend on it, so this is a benchmark, not a test):
    pip install keras && KERAS_BACKEND=torch python bench/keras_forward.py [KERAS_FILE]
KERAS_FILE: a Keras Xception (.keras/.h5); default: the first one `foodcam.weights.keras_xception_files` finds.
Recorded (06_weights): ~2e-6 with Keras mode (BatchNorm eps 1e-3 and `MaxPool2dSame`); with the eps fix alone the
features reach only a cosine of ~0.95."""
import os, sys
import numpy as np, torch
from foodcam.weights import weights_from_file, keras_xception_files

def keras_forward_check(path, size=256):
    "(max abs difference, max |feature|, cosine) between Keras's Xception loaded from `path` and the converted model"
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras
    inner = keras.saving.load_model(path, compile=False).get_layer('xception')
    kx = keras.applications.Xception(weights=None, include_top=False, input_shape=(size, size, 3))
    kx.set_weights(inner.get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype('float32')
    ref = np.asarray(keras.ops.convert_to_numpy(kx(x, training=False))).transpose(0, 3, 1, 2)
    with torch.no_grad(): ours = weights_from_file(path, cache=False)(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    cos = float((ref * ours).sum() / np.sqrt((ref**2).sum() * (ours**2).sum()))
    return float(np.abs(ref - ours).max()), float(np.abs(ref).max()), cos

if __name__ == '__main__':
    path = sys.argv[1] if len(sys.argv) > 1 else next((f for f in keras_xception_files() if f.exists()), None)
    if path is None: sys.exit('no Keras Xception file found: pass one (.keras/.h5)')
    d, m, c = keras_forward_check(path)
    print(f'{path}: max abs diff vs Keras {d:.2e} (max |feature| {m:.1f}), cosine {c:.6f}')
    sys.exit(0 if d < 1e-3 else 1)
