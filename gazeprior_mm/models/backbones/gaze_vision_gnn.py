"""GazeGNN's backbone: patch nodes with gaze features, Vision-GNN message passing."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from gazeprior_mm.registry import MODELS


def knn_indices(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, P, C) node features -> (N, P, k) indices of each node's k nearest nodes
    (Euclidean distance of the L2-normalised features; the node itself
    included, as Vision GNN's dynamic graph)."""
    x = F.normalize(x, dim=-1)
    dist = torch.cdist(x, x)  # (N, P, P); P <= a few hundred: dense is fine
    return dist.topk(k, dim=-1, largest=False).indices


class GraphBlock(nn.Module):
    r"""One Vision-GNN block: Grapher (dynamic k-NN graph, max-relative graph
    convolution) and FFN, both residual.

    .. math::

        h = W_{in}\,\mathrm{LN}(x), \quad
        r_i = \max_{j \in \mathcal N_k(i)} (h_j - h_i), \quad
        x \leftarrow x + W_{out}\,\mathrm{GELU}(W_{mr} [h_i, r_i]), \quad
        x \leftarrow x + \mathrm{FFN}(\mathrm{LN}(x))

    Args:
        channels (int): C.
        k (int): neighbours per node.
        mlp_ratio (int): FFN hidden width / C.
    """

    def __init__(self, channels: int, k: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.k = k
        self.norm1 = nn.LayerNorm(channels)
        self.fc_in = nn.Linear(channels, channels)
        self.mr_conv = nn.Linear(2 * channels, channels)
        self.fc_out = nn.Linear(channels, channels)
        self.norm2 = nn.LayerNorm(channels)
        self.ffn = nn.Sequential(nn.Linear(channels, mlp_ratio * channels),
                                 nn.GELU(),
                                 nn.Linear(mlp_ratio * channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, P, C) -> (N, P, C)."""
        h = self.fc_in(self.norm1(x))
        idx = knn_indices(h, min(self.k, h.shape[1]))  # (N, P, k)
        neighbours = torch.gather(
            h[:, None].expand(-1, h.shape[1], -1, -1), 2,
            idx[..., None].expand(-1, -1, -1, h.shape[-1]))  # (N, P, k, C)
        relative = (neighbours - h[:, :, None]).amax(dim=2)
        x = x + self.fc_out(F.gelu(self.mr_conv(torch.cat([h, relative], -1))))
        return x + self.ffn(self.norm2(x))


@MODELS.register_module()
class GazeVisionGNN(BaseModule):
    r"""Patch graph with gaze features (GazeGNN, Wang et al. 2023).

    The image is cut into an M x M grid of ``patch_size`` patches (a conv stem);
    each patch is a node whose feature is its embedding plus a learnt position
    embedding plus a gaze embedding of its gaze weight,

    .. math:: x_i = E\,\mathrm{patch}_i + p_i + \tilde g_i\, w_{gaze} + b_{gaze}

    then ``depth`` :class:`GraphBlock`\ s pass messages over a dynamic k-NN graph,
    and the nodes are averaged. Images without gaze get :math:`\tilde g = 0`.

    Args:
        grid (int): M; the input must be ``grid * patch_size`` pixels square.
        patch_size (int): pixels per patch side. Defaults to 8.
        embed_dims (int): C. Defaults to 192.
        depth (int): graph blocks. Defaults to 6.
        k (int): neighbours per node. Defaults to 9 (Vision GNN's).
        init_cfg (dict, optional): mmengine init config.

    Returns (``forward``): a one-tuple of (N, C) pooled node features.
    """

    def __init__(self,
                 grid: int = 14,
                 patch_size: int = 8,
                 embed_dims: int = 192,
                 depth: int = 6,
                 k: int = 9,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.grid = grid
        self.patch_size = patch_size
        self.stem = nn.Sequential(
            nn.Conv2d(3, embed_dims // 2, 3, stride=2, padding=1),
            nn.BatchNorm2d(embed_dims // 2), nn.GELU(),
            nn.Conv2d(embed_dims // 2, embed_dims, patch_size // 2,
                      stride=patch_size // 2),
            nn.BatchNorm2d(embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid, embed_dims))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.gaze_embed = nn.Linear(1, embed_dims)
        self.blocks = nn.ModuleList(
            [GraphBlock(embed_dims, k) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor,
                gaze: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor]:
        """(N, 3, H, W) images, (N, M*M) gaze weights (None: no gaze) -> ((N, C),)."""
        nodes = self.stem(x).flatten(2).transpose(1, 2)  # (N, P, C)
        if nodes.shape[1] != self.grid * self.grid:
            raise ValueError(
                f'{x.shape[-2]}x{x.shape[-1]} input gives {nodes.shape[1]} patches,'
                f' not the {self.grid}x{self.grid} grid (input must be '
                f'{self.grid * self.patch_size} px)')
        if gaze is None:
            gaze = nodes.new_zeros(nodes.shape[:2])
        nodes = nodes + self.pos_embed + self.gaze_embed(gaze[..., None])
        for block in self.blocks:
            nodes = block(nodes)
        return (self.norm(nodes).mean(1), )
