"""A small GPT-style decoder-only transformer (nanoGPT-flavoured).

Kept deliberately plain: pre-norm blocks, causal self-attention via
``F.scaled_dot_product_attention``, a GELU MLP, tied input/output embeddings.
The only experiment knob living here is the normalisation layer
(LayerNorm vs RMSNorm), so that an exante study can flip it from the CLI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 256  # raw bytes: a fixed vocabulary that never depends on the corpus
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 64
    norm: str = "layernorm"  # "layernorm" | "rmsnorm"


class RMSNorm(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019): rescale by the root-mean-square, no centring, no bias."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def make_norm(kind: str, dim: int) -> nn.Module:
    if kind == "layernorm":
        # bias=False mirrors nanoGPT's default and keeps the parameter count equal
        # to RMSNorm's, so the two choices differ only in the centring step.
        return nn.LayerNorm(dim, bias=False)
    if kind == "rmsnorm":
        return RMSNorm(dim)
    raise ValueError(f"unknown norm {kind!r} (expected 'layernorm' or 'rmsnorm')")


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.norm1 = make_norm(cfg.norm, cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.norm2 = make_norm(cfg.norm, cfg.n_embd)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Pre-norm residual blocks train stably without warmup tricks at this size.
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig, generator: torch.Generator):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm_f = make_norm(cfg.norm, cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        # Weight tying: fewer parameters, and usually a slightly better LM at small scale.
        self.lm_head.weight = self.tok_emb.weight
        self._init_weights(generator)

    @torch.no_grad()
    def _init_weights(self, g: torch.Generator) -> None:
        # All randomness of the initialisation comes from the explicit generator `g`
        # (not torch's global RNG), so the seed alone fixes the initial weights.
        # GPT-2 scheme: N(0, 0.02), residual output projections scaled by 1/sqrt(2*n_layer).
        resid_std = 0.02 / math.sqrt(2 * self.cfg.n_layer)
        for name, p in self.named_parameters():  # named_parameters() de-duplicates the tied weight
            if p.dim() < 2:
                continue  # norm gains keep their default of 1
            std = resid_std if name.endswith("proj.weight") else 0.02
            nn.init.normal_(p, mean=0.0, std=std, generator=g)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def estimate_loss(self, x: torch.Tensor, y: torch.Tensor, batch: int = 64) -> float:
        """Mean cross-entropy over fixed windows (x, y): exact, not a random estimate."""
        self.eval()
        total = 0.0
        for i in range(0, len(x), batch):
            _, loss = self(x[i:i + batch], y[i:i + batch])
            total += loss.item() * len(x[i:i + batch])
        self.train()
        return total / len(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.norm_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss
