"""The 2-layer LSTM language model of Zaremba, Sutskever & Vinyals (2014), "medium" size.

Goodfellow et al. (2015, App. A) use "the configuration described in the paper
introducing this method (Zaremba et al., 2014)" for their dropout LSTM on the Penn
Treebank; Im et al. (2016) also train an LSTM on it.
"""

from __future__ import annotations

import torch
from torch import nn

from experiments.models.checks import positive_int

__all__ = ["LSTMLanguageModel", "lstm_medium"]

# The recurrent state (h, c), each of shape (num_layers, batch, hidden_size).
State = tuple[torch.Tensor, torch.Tensor]


class LSTMLanguageModel(nn.Module):
    """Word embedding, stacked LSTM and a linear decoder to next-token logits.

    Dropout (Zaremba et al. 2014) is applied to the non-recurrent connections only: the
    embedding's output, between LSTM layers and before the decoder. Every parameter
    (embedding, LSTM weights and both bias vectors, decoder) is drawn from
    U(−init_scale, init_scale), as in Zaremba et al.'s code.

    Call it as ``model(tokens)`` for logits: ``tokens`` is ``(batch, time)`` int64,
    logits are ``(batch, time, vocab_size)``, and the state starts at zero. To carry the
    state across truncated-BPTT segments, pass ``state=`` and ask for
    ``return_state=True``: the model then returns ``(logits, state)``; detach the state
    before feeding it to the next segment. The module keeps no state of its own, so it
    is a pure function of its inputs (in eval mode) and safe to use with
    :func:`torch.func.functional_call`.

    Parameters
    ----------
    vocab_size : int
    hidden_size : int
        Both the embedding size and the LSTM width.
    num_layers : int
    dropout : float
        Drop probability on the non-recurrent connections.
    init_scale : float
        Half-width of the uniform initialisation.

    Examples
    --------
    >>> import torch
    >>> model = LSTMLanguageModel(vocab_size=50, hidden_size=8)
    >>> tokens = torch.zeros(3, 5, dtype=torch.long)
    >>> model(tokens).shape
    torch.Size([3, 5, 50])
    >>> logits, (h, c) = model(tokens, return_state=True)
    >>> h.shape, c.shape
    (torch.Size([2, 3, 8]), torch.Size([2, 3, 8]))
    >>> model(tokens, state=(h.detach(), c.detach())).shape
    torch.Size([3, 5, 50])
    """

    def __init__(
        self,
        vocab_size: int = 10_000,
        hidden_size: int = 650,
        num_layers: int = 2,
        dropout: float = 0.5,
        init_scale: float = 0.05,
    ) -> None:
        super().__init__()
        positive_int(vocab_size, "vocab_size")
        positive_int(hidden_size, "hidden_size")
        positive_int(num_layers, "num_layers")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if not init_scale >= 0:
            raise ValueError(f"init_scale must be >= 0, got {init_scale!r}")
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.drop = nn.Dropout(dropout)
        between = dropout if num_layers > 1 else 0.0  # nn.LSTM warns about dropout on one layer
        self.lstm = nn.LSTM(hidden_size, hidden_size, num_layers, batch_first=True, dropout=between)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        with torch.no_grad():
            for param in self.parameters():
                param.uniform_(-init_scale, init_scale)

    def forward(
        self, tokens: torch.Tensor, state: State | None = None, *, return_state: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, State]:
        """Next-token logits ``(batch, time, vocab)`` for int64 ``tokens`` ``(batch, time)``.

        ``state`` is ``(h, c)``, each ``(num_layers, batch, hidden_size)``; ``None`` starts
        from zeros. With ``return_state=True`` the result is ``(logits, (h, c))``, the state
        after the last token.
        """
        out, new_state = self.lstm(self.drop(self.embedding(tokens)), state)
        logits = self.decoder(self.drop(out))
        return (logits, new_state) if return_state else logits


def lstm_medium(*, dropout: float = 0.5, vocab_size: int = 10_000) -> LSTMLanguageModel:
    """Zaremba et al. (2014)'s medium regularised LSTM for the Penn Treebank.

    Two layers of 650 units, 650-dimensional embeddings, a 10,000-word vocabulary,
    dropout 0.5 on non-recurrent connections and every parameter from U(−0.05, 0.05);
    trained unrolled for 35 steps (a training-loop setting: the model takes sequences
    of any length). 19,780,400 parameters.

    Parameters
    ----------
    dropout : float
        Drop probability on the non-recurrent connections.
    vocab_size : int
        Penn Treebank's is 10,000 words.

    Returns
    -------
    LSTMLanguageModel
        Two LSTM layers of 650 units.

    Examples
    --------
    >>> sum(p.numel() for p in lstm_medium().parameters())
    19780400
    """
    return LSTMLanguageModel(vocab_size, 650, 2, dropout, 0.05)
