"""Layer-wise lr decay on small hand-built models named like BERT, GPT-2, ViT (timm) and LLaMA."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lrsched import CosineScheduler, deberta_v3_large_lr_scheduler, layer_decay_param_groups

L = 4  # layers in every toy model


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(4, 4)
        self.LayerNorm = nn.LayerNorm(4)


class Bert(nn.Module):
    """bert.embeddings.*, bert.encoder.layer.N.*, bert.pooler.*, classifier.*"""

    def __init__(self) -> None:
        super().__init__()
        self.bert = nn.Module()
        self.bert.embeddings = nn.Module()
        self.bert.embeddings.word_embeddings = nn.Embedding(10, 4)
        self.bert.embeddings.position_embeddings = nn.Embedding(8, 4)
        self.bert.embeddings.LayerNorm = nn.LayerNorm(4)
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList(Attention() for _ in range(L))
        self.bert.pooler = nn.Linear(4, 4)
        self.classifier = nn.Linear(4, 2)


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(4)
        self.attn = nn.Linear(4, 12)


class GPT2(nn.Module):
    """transformer.wte/wpe, transformer.h.N.*, transformer.ln_f, lm_head tied to wte."""

    def __init__(self) -> None:
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(10, 4)
        self.transformer.wpe = nn.Embedding(8, 4)
        self.transformer.h = nn.ModuleList(Block() for _ in range(L))
        self.transformer.ln_f = nn.LayerNorm(4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied: listed once by named_parameters


class ViT(nn.Module):
    """timm names: cls_token, pos_embed, patch_embed.proj, blocks.N.*, norm, head."""

    def __init__(self) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, 4))
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, 4, 2, 2)
        self.blocks = nn.Sequential(*(Block() for _ in range(L)))
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 3)


class Llama(nn.Module):
    """model.embed_tokens, model.layers.N.*, model.norm, lm_head; one frozen layer."""

    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(10, 4)
        self.model.layers = nn.ModuleList(Block() for _ in range(L))
        self.model.norm = nn.LayerNorm(4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        for p in self.model.layers[0].parameters():
            p.requires_grad_(False)


def expected_tier(model_name: str, name: str) -> tuple[str, int]:
    """(tier, depth) written out per model from the names above; depth = L - i for layer i."""
    embeddings = {
        "bert": ("bert.embeddings.",),
        "gpt2": ("transformer.wte", "transformer.wpe"),
        "vit": ("cls_token", "pos_embed", "patch_embed."),
        "llama": ("model.embed_tokens",),
    }[model_name]
    if name.startswith(embeddings):
        return "embeddings", L + 1
    for prefix in ("bert.encoder.layer.", "transformer.h.", "blocks.", "model.layers."):
        if name.startswith(prefix):
            i = int(name[len(prefix) :].split(".")[0])
            return f"layer.{i}", L - i
    return "head", 0


MODELS = {"bert": Bert, "gpt2": GPT2, "vit": ViT, "llama": Llama}


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("lr, decay, weight_decay", [(1e-3, 0.8, 0.05), (0.1, 0.5, 0.0), (2e-5, 1.0, 0.01)])
def test_lrs_weight_decay_and_coverage(model_name, lr, decay, weight_decay):
    torch.manual_seed(0)
    model = MODELS[model_name]()
    groups = layer_decay_param_groups(model, lr=lr, decay=decay, weight_decay=weight_decay)

    # every trainable parameter exactly once, no frozen one
    listed = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(listed) == sorted(trainable) and len(listed) == len(set(listed))

    group_of = {id(p): g for g in groups for p in g["params"]}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        tier, depth = expected_tier(model_name, name)
        group = group_of[id(param)]
        assert group["name"] == tier and group["depth"] == depth, name
        assert group["lr"] == lr * decay**depth, name  # head lr, lr * decay**(L - i), lr * decay**(L + 1)
        no_decay = param.ndim <= 1 or name.endswith(".bias") or "norm" in name.lower()
        assert group["weight_decay"] == (0.0 if no_decay else weight_decay), name

    # groups run from the embeddings up to the head, and a torch optimizer accepts them
    depths = [g["depth"] for g in groups]
    assert depths == sorted(depths, reverse=True) and depths[0] == L + 1 and depths[-1] == 0
    torch.optim.AdamW(groups, lr=lr)


def test_biases_and_norm_weights_get_no_weight_decay():
    groups = layer_decay_param_groups(Bert(), lr=1e-3, decay=0.9, weight_decay=0.1)
    for group in groups:
        for p in group["params"]:
            assert (group["weight_decay"] == 0.0) == (p.ndim <= 1)


def test_exact_lrs_of_a_bert_like_model():
    groups = {(g["name"], g["weight_decay"] > 0): g["lr"] for g in layer_decay_param_groups(Bert(), 1.0, 0.5, 0.01)}
    assert groups[("head", True)] == 1.0
    assert [groups[(f"layer.{i}", True)] for i in range(L)] == [0.5**4, 0.5**3, 0.5**2, 0.5]
    assert groups[("embeddings", True)] == 0.5**5


def test_survives_a_scheduler_with_ratios_kept(make_optimizer, train_lrs):
    groups = layer_decay_param_groups(ViT(), lr=1e-3, decay=0.7, weight_decay=0.05)
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    initial = [g["lr"] for g in groups]
    scheduler = CosineScheduler(optimizer, t_max=20, max_lr=1e-3, warmup_steps=4)
    for t, row in enumerate(train_lrs(optimizer, scheduler, 24)):
        head = scheduler.lr_at(t)
        np.testing.assert_allclose(row, [head * lr / 1e-3 for lr in initial], rtol=1e-14)


def test_model_without_numbered_layers_is_rejected():
    with pytest.raises(ValueError, match="numbered layers"):
        layer_decay_param_groups(nn.Sequential(nn.Linear(2, 2)), lr=1e-3, decay=0.9)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"lr": -1e-3}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"decay": 0.0}, ValueError, "decay"),
        ({"decay": 1.5}, ValueError, "decay"),
        ({"decay": -0.5}, ValueError, "decay"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay"),
        ({"decay": "0.9"}, TypeError, "decay"),
    ],
)
def test_bad_arguments(kwargs, error, name):
    arguments = {"lr": 1e-3, "decay": 0.9, "weight_decay": 0.0} | kwargs
    with pytest.raises(error, match=name):
        layer_decay_param_groups(Bert(), **arguments)
    with pytest.raises(TypeError, match="model"):
        layer_decay_param_groups("not a model", lr=1e-3, decay=0.9)  # type: ignore[arg-type]


# -- the DeBERTa-v3-large grouping of pytorch-optimizer ----------------------------------------------
class DebertaLike(nn.Module):
    """Embeddings, 66 encoder layers of 6 parameters each, a head: 401 parameters, one frozen."""

    def __init__(self) -> None:
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(5, 2)
        self.embeddings.LayerNorm = nn.LayerNorm(2)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(Attention2() for _ in range(66))
        self.pooler = nn.Linear(2, 2)
        self.head = nn.Linear(2, 1)
        self.encoder.layer[3].query.bias.requires_grad_(False)


class Attention2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(2, 2)
        self.key = nn.Linear(2, 2)
        self.LayerNorm = nn.LayerNorm(2)


def test_deberta_grouping_follows_the_reference_formula():
    model = DebertaLike()
    named = list(model.named_parameters())
    assert len(named) > 390
    groups = deberta_v3_large_lr_scheduler(model)
    assert groups[0]["lr"] == 1e-4 and "weight_decay" not in groups[0]
    assert [id(p) for p in groups[0]["params"]] == [id(p) for _, p in named[390:]]
    assert len(groups) == 1 + 390
    for index, ((name, param), group) in enumerate(zip(named[:390], groups[1:])):
        assert group["params"] is param
        lr = 2e-5 / 2.5 if index < 195 else 2e-5 if index < 323 else 2e-5 / 0.5
        assert group["lr"] == lr
        assert group["weight_decay"] == (0.0 if "bias" in name or "LayerNorm.weight" in name else 1e-2)
    # what the reference's comments call "2e-5" and "1e-4" are 8e-6 and 4e-5
    assert groups[1]["lr"] == pytest.approx(8e-6) and groups[-1]["lr"] == pytest.approx(4e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "layer_low_threshold": 10,
            "layer_middle_threshold": 20,
            "head_param_start": 30,
            "base_lr": 1e-3,
            "head_lr": 1e-2,
            "wd": 0.1,
        },
    ],
)
def test_deberta_grouping_equals_pytorch_optimizer(kwargs):
    from pytorch_optimizer.lr_scheduler import deberta_v3_large_lr_scheduler as reference

    model = DebertaLike()
    ours, theirs = deberta_v3_large_lr_scheduler(model, **kwargs), reference(model, **kwargs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys()
        for key in a:
            if key == "params":
                if isinstance(a[key], list):
                    assert [id(p) for p in a[key]] == [id(p) for p in b[key]]
                else:
                    assert a[key] is b[key]
            else:
                assert a[key] == b[key] and type(a[key]) is type(b[key])
    torch.optim.AdamW(ours, lr=1e-3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"layer_low_threshold": 300, "layer_middle_threshold": 200}, "layer_low_threshold"),
        ({"layer_middle_threshold": 400, "head_param_start": 390}, "layer_middle_threshold"),
        ({"head_param_start": -1}, "head_param_start"),
        ({"base_lr": -1.0}, "base_lr"),
        ({"head_lr": float("inf")}, "head_lr"),
        ({"wd": -0.1}, "wd"),
    ],
)
def test_deberta_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        deberta_v3_large_lr_scheduler(DebertaLike(), **kwargs)


def _deberta_like() -> nn.Module:
    """Names as in DeBERTa: a shared LayerNorm and rel_embeddings after the numbered layers."""
    root = nn.Module()
    root.deberta = nn.Module()
    root.deberta.embeddings = nn.Module()
    root.deberta.embeddings.word_embeddings = nn.Embedding(5, 4)
    root.deberta.encoder = nn.Module()
    root.deberta.encoder.layer = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
    root.deberta.encoder.rel_embeddings = nn.Embedding(6, 4)
    root.deberta.encoder.LayerNorm = nn.LayerNorm(4)
    root.classifier = nn.Linear(4, 2)
    return root


def _lr_by_param(groups):
    return {id(p): g["lr"] for g in groups for p in g["params"]}


def test_overrides_move_a_prefix_to_another_tier():
    model = _deberta_like()
    names = dict(model.named_parameters())
    plain = _lr_by_param(layer_decay_param_groups(model, lr=1.0, decay=0.5))
    # By position the shared LayerNorm follows the last layer: the name rule makes it head (lr).
    assert plain[id(names["deberta.encoder.LayerNorm.weight"])] == 1.0
    moved = _lr_by_param(
        layer_decay_param_groups(model, lr=1.0, decay=0.5, overrides={"deberta.encoder.LayerNorm": "embeddings"})
    )
    # L = 3 layers: embeddings get 0.5 ** 4, as rel_embeddings and word embeddings do.
    for name in ("deberta.encoder.LayerNorm.weight", "deberta.encoder.LayerNorm.bias"):
        assert moved[id(names[name])] == 0.5**4
    assert moved[id(names["deberta.encoder.rel_embeddings.weight"])] == 0.5**4
    assert moved[id(names["classifier.weight"])] == 1.0
    pinned = _lr_by_param(layer_decay_param_groups(model, lr=1.0, decay=0.5, overrides={"classifier": 1}))
    assert pinned[id(names["classifier.weight"])] == 0.5 ** (3 - 1)


def test_overrides_longest_prefix_wins_and_prefix_means_whole_name_parts():
    model = _deberta_like()
    names = dict(model.named_parameters())
    groups = layer_decay_param_groups(
        model, lr=1.0, decay=0.5, overrides={"deberta.encoder": "head", "deberta.encoder.layer.0": 2}
    )
    lrs = _lr_by_param(groups)
    assert lrs[id(names["deberta.encoder.layer.0.weight"])] == 0.5 ** (3 - 2)
    assert lrs[id(names["deberta.encoder.layer.1.weight"])] == 1.0
    # "deberta.encoder.layer.1" must not match the prefix "deberta.encoder.layer.0"; nor "classifie" match "classifier".
    lrs = _lr_by_param(layer_decay_param_groups(model, lr=1.0, decay=0.5, overrides={"classifie": "embeddings"}))
    assert lrs[id(names["classifier.weight"])] == 1.0


@pytest.mark.parametrize("bad", [{"classifier": "top"}, {"classifier": 3}, {"classifier": -1}, {"classifier": True}])
def test_bad_overrides_raise_naming_the_argument(bad):
    with pytest.raises(ValueError, match="overrides"):
        layer_decay_param_groups(_deberta_like(), lr=1.0, decay=0.5, overrides=bad)
    with pytest.raises(TypeError, match="overrides"):
        layer_decay_param_groups(_deberta_like(), lr=1.0, decay=0.5, overrides=[("classifier", "head")])


# -- the two conventions, each against its paper's own formula ---------------
def electra_lr(lr: float, decay: float, n_layers: int, tier: str) -> float:
    """ELECTRA's _get_layer_lrs (Clark et al. 2020): embeddings depth 0,
    encoder layer i depth i + 1, task head depth n + 2;
    lr * decay ** (n + 2 - depth)."""
    if tier == "embeddings":
        depth = 0
    elif tier == "head":
        depth = n_layers + 2
    else:
        depth = int(tier.split(".")[1]) + 1
    return lr * decay ** (n_layers + 2 - depth)


def beit_lr(lr: float, decay: float, n_blocks: int, tier: str) -> float:
    """BEiT/MAE param_groups_lrd: num_layers = blocks + 1; layer id 0 for
    cls_token/pos_embed/patch_embed, i + 1 for block i, num_layers for the
    rest; scale decay ** (num_layers - layer_id)."""
    num_layers = n_blocks + 1
    if tier == "embeddings":
        layer_id = 0
    elif tier == "head":
        layer_id = num_layers
    else:
        layer_id = int(tier.split(".")[1]) + 1
    return lr * decay ** (num_layers - layer_id)


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("lr, decay", [(1.0, 0.5), (3e-4, 0.8), (0.1, 1.0)])
def test_conventions_follow_each_papers_formula(model_name, lr, decay):
    model = MODELS[model_name]()
    reference = {"beit": beit_lr, "electra": electra_lr}
    for convention, formula in reference.items():
        groups = layer_decay_param_groups(
            model, lr=lr, decay=decay, convention=convention
        )
        group_of = {id(p): g for g in groups for p in g["params"]}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            tier, _ = expected_tier(model_name, name)
            expected = formula(lr, decay, L, tier)
            assert group_of[id(param)]["lr"] == pytest.approx(
                expected, rel=1e-12
            ), (convention, name)


def test_default_convention_is_beit_and_electra_is_one_factor_lower():
    default = layer_decay_param_groups(Bert(), lr=1.0, decay=0.5)
    beit = layer_decay_param_groups(Bert(), 1.0, 0.5, convention="beit")
    electra = layer_decay_param_groups(Bert(), 1.0, 0.5, convention="electra")
    assert [g["lr"] for g in default] == [g["lr"] for g in beit]
    by_name = {g["name"]: g["lr"] for g in electra}
    # L = 4: top layer 0.5**2, bottom 0.5**5, embeddings 0.5**6
    assert by_name["head"] == 1.0
    assert by_name[f"layer.{L - 1}"] == 0.25
    assert by_name["layer.0"] == 0.5**5 and by_name["embeddings"] == 0.5**6
    for a, b in zip(beit, electra):
        assert a["name"] == b["name"]
        expected = a["lr"] if a["name"] == "head" else a["lr"] * 0.5
        assert b["lr"] == expected


def test_electra_convention_with_overrides():
    model = _deberta_like()
    names = dict(model.named_parameters())
    lrs = _lr_by_param(
        layer_decay_param_groups(
            model, lr=1.0, decay=0.5, convention="electra",
            overrides={"deberta.encoder.LayerNorm": "embeddings"},
        )
    )
    # L = 3: ELECTRA's embeddings sit at depth 0 -> 0.5 ** 5
    assert lrs[id(names["deberta.encoder.LayerNorm.weight"])] == 0.5**5
    assert lrs[id(names["deberta.encoder.layer.2.weight"])] == 0.5**2
    assert lrs[id(names["classifier.weight"])] == 1.0


@pytest.mark.parametrize(
    "convention, error",
    [("BEiT-ish", ValueError), ("", ValueError), (None, TypeError),
     (2, TypeError)],
)
def test_bad_convention_names_the_argument(convention, error):
    with pytest.raises(error, match="convention"):
        layer_decay_param_groups(
            Bert(), lr=1.0, decay=0.5, convention=convention
        )
