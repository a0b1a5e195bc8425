"Fast checks of foodcam.cifar outside the notebook: checkpoint errors and the frozen transfer body"
import pytest, torch
from foodcam.cifar import cifar_net, save_cifar, load_cifar, cifar_transfer, TensorDL
from foodcam.train import load_model
from fastai.data.core import DataLoaders

def _dls(n=40, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    x = (torch.rand(n, 3, 32, 32, generator=g) * 60 + (y * 80).view(-1, 1, 1, 1)).clamp(0, 255).to(torch.uint8)
    cls = [f'c{i}' for i in range(k)]
    return DataLoaders(TensorDL(x, y, vocab=cls, bs=10, shuffle=True, drop_last=True), TensorDL(x[:20], y[:20],
                                                                                                vocab=cls, bs=10))

def test_checkpoint_errors(tmp_path):
    m = cifar_net(10, widths=(8, 16, 16)); fn = save_cifar(m, tmp_path/'c.pth', list('abcdefghij'))
    with pytest.raises(ValueError, match='does not fit this model'): load_model(fn, cifar_net(10, widths=(8, 16, 32)))
    with pytest.raises(ValueError, match='does not fit this model'): load_model(fn, cifar_net(5, widths=(8, 16, 16)))
    with pytest.raises(ValueError, match="holds a 'airnet_8-16-16' model"): load_cifar(fn, arch='airnet')
    with pytest.raises(ValueError, match='trained for 10 classes'): load_cifar(fn, classes=['x', 'y'])
    m2, meta = load_cifar(fn); x = torch.rand(2, 3, 32, 32)
    assert torch.equal(m.eval()(x), m2(x)) and meta['arch'] == 'airnet_8-16-16'

def test_transfer_keeps_body(tmp_path):
    m = cifar_net(10, widths=(8, 16, 16))
    with torch.no_grad():  # non-trivial BN statistics, so a drift would show
        for b in m.modules():
            if isinstance(b, torch.nn.BatchNorm2d): b.running_mean.normal_(); b.running_var.uniform_(.5, 2)
    fn = save_cifar(m, tmp_path/'c.pth', list('abcdefghij'))
    learn = cifar_transfer(_dls(), fn)
    body0 = {k: v.clone() for k, v in learn.model[0].state_dict().items()}; head0 = learn.model[1].fc.weight.clone()
    with learn.no_logging(): learn.fit_one_cycle(2, 1e-2)
    for k, v in learn.model[0].state_dict().items(): assert torch.equal(v, body0[k]), k
    assert not torch.equal(head0, learn.model[1].fc.weight) and learn.model[1].fc.out_features == 3
