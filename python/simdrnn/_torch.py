"""from_torch: a simdrnn.Model from a torch.nn.RNN / LSTM / GRU (and an nn.Linear head)."""
from ._capi import Activation, Cell, invalid
from ._model import Config, Model


def from_torch(module, head=None, *, clip=0.0):
    """A Model computing what `module` computes in eval mode (no dropout).

    Sizes, num_layers, bidirectional, nonlinearity (nn.RNN), proj_size (nn.LSTM), bias
    and batch_first (the Model's default layout) come from the module; an nn.GRU is
    PyTorch's GRU (linear_before_reset). `head`, an nn.Linear on the RNN's output
    (in_features = D * H_out), becomes the output layer (weight_hy, bias_hy): calls then
    also return out = head(y) (0 at padding steps). Parameters are copied: later changes
    to the module do not reach the Model.
    """
    import torch  # only this function needs torch

    nn = torch.nn
    if isinstance(module, nn.LSTM):
        cell, activation = Cell.LSTM, Activation.TANH
    elif isinstance(module, nn.GRU):
        cell, activation = Cell.GRU, Activation.TANH
    elif isinstance(module, nn.RNN):
        cell = Cell.RNN
        activation = {"tanh": Activation.TANH, "relu": Activation.RELU}.get(module.nonlinearity)
        if activation is None:
            raise invalid(f"module.nonlinearity: expected 'tanh' or 'relu', got {module.nonlinearity!r}")
    else:
        raise invalid(f"module: expected a torch.nn.RNN, nn.LSTM or nn.GRU, got {type(module).__name__}")
    proj_size = getattr(module, "proj_size", 0) or 0
    directions = 2 if module.bidirectional else 1
    width = directions * (proj_size or module.hidden_size)
    output_size = 0
    if head is not None:
        if not isinstance(head, nn.Linear):
            raise invalid(f"head: expected a torch.nn.Linear, got {type(head).__name__}")
        if head.in_features != width:
            raise invalid(f"head: expected in_features {width} (D * H_out of the module), got {head.in_features}")
        output_size = head.out_features
    config = Config(input_size=module.input_size, hidden_size=module.hidden_size, num_layers=module.num_layers,
                    bidirectional=bool(module.bidirectional), cell=cell, activation=activation, clip=clip,
                    output_size=output_size, proj_size=proj_size, gru_linear_before_reset=True)
    weights = dict(module.state_dict())  # tensors, converted to float32 arrays by Model
    if head is not None:
        weights["weight_hy"] = head.weight
        if head.bias is not None:
            weights["bias_hy"] = head.bias
    return Model(config, weights, batch_first=bool(module.batch_first))
