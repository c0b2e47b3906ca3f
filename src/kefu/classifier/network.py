"""The PyTorch network: embeddings, a bidirectional LSTM, pooling, a linear head.

Imported only by training; serving runs the ONNX export of ``ProbabilityNet``.

Each token's input vector is the sum of its vocabulary embedding and the mean
of its hashed n-gram embeddings.  A bidirectional LSTM reads the sequence; the
mean and the maximum of its outputs over time are concatenated and mapped to
one score per label.  Batches never contain padding along time (training groups
messages of equal length), so no mask is needed and the exported graph is the
same computation that was trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from kefu.classifier.features import PAD_ID


@dataclass(frozen=True, slots=True)
class NetworkShape:
    """Sizes that define the network; stored with the training metrics."""

    vocabulary_size: int
    buckets: int
    labels: int
    embedding_dim: int
    hidden_size: int
    dropout: float


class IssueNet(nn.Module):
    """Token ids ``[B, T]`` and n-gram ids ``[B, T, K]`` to logits ``[B, labels]``."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        dim = shape.embedding_dim
        self.tokens = nn.Embedding(shape.vocabulary_size, dim, padding_idx=PAD_ID)
        self.ngrams = nn.Embedding(shape.buckets, dim, padding_idx=PAD_ID)
        self.dropout = nn.Dropout(shape.dropout)
        self.lstm = nn.LSTM(
            dim, shape.hidden_size, batch_first=True, bidirectional=True
        )
        self.head = nn.Linear(4 * shape.hidden_size + dim, shape.labels)

    def forward(self, token_ids: torch.Tensor, ngram_ids: torch.Tensor) -> torch.Tensor:
        # Mean of the n-gram embeddings of each token, padding excluded.
        filled = (ngram_ids != PAD_ID).sum(dim=2, keepdim=True).clamp(min=1)
        bags = self.ngrams(ngram_ids).sum(dim=2) / filled
        inputs = self.dropout(self.tokens(token_ids) + bags)

        # Read the sequence both ways, then pool over time; the mean n-gram
        # bag joins the pooled states as a direct, order-free path to the head.
        states, _ = self.lstm(inputs)
        pooled = torch.cat(
            [states.mean(dim=1), states.amax(dim=1), bags.mean(dim=1)], dim=1
        )
        logits: torch.Tensor = self.head(self.dropout(pooled))
        return logits


class ProbabilityNet(nn.Module):
    """``IssueNet`` followed by softmax: the graph that is exported to ONNX."""

    def __init__(self, net: IssueNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, token_ids: torch.Tensor, ngram_ids: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(token_ids, ngram_ids), dim=1)
