import pytest
import torch
from torch import nn

from digitpad.config import ConfigError, ModelConfig, TrainConfig
from digitpad.models import DigitCNN, Network, VggCNN, build_model


@pytest.mark.parametrize("hidden", [[512, 256], [100], [64, 32, 16]])
def test_study_note_network_follows_hidden_layers(hidden):
    model = Network(784, 10, hidden, drop_p=0.3)

    assert isinstance(model.hidden_layers, nn.ModuleList)
    sizes = [(layer.in_features, layer.out_features) for layer in model.hidden_layers]
    assert sizes == list(zip([784] + hidden[:-1], hidden))
    assert (model.output.in_features, model.output.out_features) == (hidden[-1], 10)
    assert model.dropout.p == 0.3


def test_network_outputs_log_probabilities():
    model = Network(784, 10, [32]).eval()
    log_probabilities = model(torch.randn(5, 1, 28, 28))
    assert log_probabilities.shape == (5, 10)
    assert torch.allclose(log_probabilities.exp().sum(dim=1), torch.ones(5), atol=1e-5)


def test_dropout_only_acts_in_training_mode():
    model = Network(784, 10, [256], drop_p=0.5)
    x = torch.randn(4, 1, 28, 28)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_both_networks_use_torchs_own_dropout():
    assert type(Network(784, 10, [32]).dropout) is nn.Dropout
    assert type(DigitCNN((4, 8)).dropout) is nn.Dropout
    assert type(VggCNN((4, 8)).dropout) is nn.Dropout


@pytest.mark.parametrize("cnn", [DigitCNN, VggCNN])
def test_cnns_output_log_probabilities(cnn):
    model = cnn((8, 16)).eval()
    log_probabilities = model(torch.randn(3, 1, 28, 28))
    assert log_probabilities.shape == (3, 10)
    assert torch.allclose(log_probabilities.exp().sum(dim=1), torch.ones(3), atol=1e-5)


@pytest.mark.parametrize("model", [Network(784, 10, [32, 16]), DigitCNN((4, 8)), VggCNN((4, 8))],
                         ids=["mlp", "cnn", "vgg"])
def test_forward_is_the_log_softmax_of_the_logits(model):
    model.eval()
    images = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(images), torch.log_softmax(model.logits(images), dim=1))


def test_cnn_pools_before_its_relu_with_the_same_values_as_the_textbook_order():
    import torch.nn.functional as F

    model = _trained_looking_cnn(ModelConfig(arch="cnn", channels=(4, 8)))
    images = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        x = F.max_pool2d(F.relu(model.bn1(model.conv1(images))), 2)
        x = F.max_pool2d(F.relu(model.bn2(model.conv2(x))), 2)
        expected = model.fc2(F.relu(model.fc1(x.flatten(start_dim=1))))
        assert torch.equal(model.logits(images), expected)


def test_build_model_from_plain_config_round_trip():
    config = ModelConfig(arch="mlp", hidden=(64, 32), dropout=0.2)
    rebuilt = ModelConfig.from_dict(config.to_dict())
    assert rebuilt == config
    model = build_model(rebuilt)
    assert isinstance(model, Network)
    assert [layer.out_features for layer in model.hidden_layers] == [64, 32]
    assert isinstance(build_model(ModelConfig()), DigitCNN)
    deep = build_model(ModelConfig.from_dict(ModelConfig(arch="vgg", channels=(4, 8)).to_dict()))
    assert isinstance(deep, VggCNN) and [deep.conv1.out_channels, deep.conv4.out_channels] == [4, 8]


def test_the_deep_cnn_has_two_stages_of_two_3x3_convolutions():
    model = VggCNN((4, 8))
    convolutions = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    assert [conv.kernel_size for conv in convolutions] == [(3, 3)] * 4
    assert [(conv.in_channels, conv.out_channels) for conv in convolutions] == [(1, 4), (4, 4), (4, 8), (8, 8)]
    assert model.fc1.in_features == 8 * 7 * 7


@pytest.mark.parametrize(
    "bad",
    [dict(arch="rnn"), dict(arch="mlp", hidden=()), dict(hidden=(0,)), dict(dropout=1.0), dict(channels=(8,))],
)
def test_bad_model_configs_are_refused(bad):
    with pytest.raises(ConfigError):
        ModelConfig(**bad)


def test_architecture_defaults():
    mlp = TrainConfig.defaults_for("mlp", hidden=(128,), epochs=2)
    assert mlp.model == ModelConfig(arch="mlp", hidden=(128,))
    assert mlp.augment is False and mlp.epochs == 2
    assert TrainConfig.defaults_for("cnn").augment is True
    assert TrainConfig.defaults_for("vgg").with_changes(model=ModelConfig()) == TrainConfig()
    with pytest.raises(ConfigError):
        TrainConfig(lr=0)


def _trained_looking_cnn(config: ModelConfig) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(config)
    # Batch norm statistics and affine terms away from their defaults, as after training.
    for norm in [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]:
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.mark.parametrize("arch", ["cnn", "vgg"])
def test_folding_batch_norm_keeps_the_outputs_and_the_original(arch):
    model = _trained_looking_cnn(ModelConfig(arch=arch, channels=(4, 8)))
    folded = model.with_batch_norm_folded()
    assert not any(isinstance(module, nn.BatchNorm2d) for module in folded.modules())
    assert isinstance(model.bn1, nn.BatchNorm2d)  # a copy: the model itself is untouched
    images = torch.randn(32, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(folded(images), model(images), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch", ["cnn", "vgg"])
def test_the_classifier_runs_the_cnns_folded_and_channels_last_with_the_same_answers(arch):
    from digitpad.inference import Classifier

    config = ModelConfig(arch=arch, channels=(4, 8))
    plain = _trained_looking_cnn(config)
    classifier = Classifier(plain, config)
    assert isinstance(plain.bn1, nn.BatchNorm2d)
    assert isinstance(classifier.model.bn2, nn.Identity)
    assert classifier.model.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    images = torch.randn(16, 1, 28, 28)
    with torch.no_grad():
        expected = plain(images).exp().numpy()
    got = classifier.probabilities(images)
    assert abs(got - expected).max() < 1e-5
    assert (got.argmax(1) == expected.argmax(1)).all()
