"""Hyperparameters of a training run and their measured defaults.

Only the standard library and numpy: web processes import it (the retraining form shows the defaults),
while embeddings/training.py, which needs TensorFlow, uses it to train.
"""

from dataclasses import asdict, dataclass, replace

import numpy as np

UPDATE_BUDGET = 3200  # optimizer steps of a default run
MIN_EPOCHS, MAX_EPOCHS = 3, 50


def default_epochs(n_pairs: int, batch_positives: int) -> int:
    """Epochs giving about UPDATE_BUDGET steps of batch_positives positives, within [MIN_EPOCHS, MAX_EPOCHS]."""
    steps_per_epoch = max(1, -(-int(n_pairs) // max(1, int(batch_positives))))
    return int(np.clip(round(UPDATE_BUDGET / steps_per_epoch), MIN_EPOCHS, MAX_EPOCHS))


@dataclass
class TrainParams:
    # Measured on the Wikipedia sample (benchmarks/train_quality.py, mean of split/training seeds 42 and 0): the
    # original 15 epochs at lr 0.001 are far from converged there (about 30 steps an epoch). 50 epochs with a cosine
    # decay, 100 dims (and negatives only from links with a training pair, batches.py): held-out link AUC
    # 0.855 -> 0.887, genre precision@10 0.339 -> 0.348, author recall@10 0.725 -> 0.745 against 50 dims at a
    # constant 0.01. Then balancing rare and common links: positives drawn by (books using the link) ** -0.25
    # (rare, author-specific links more often) and negatives by (books using it) ** 0.25 (rare links fewer
    # negatives), 256 dims, ratio 3, lr 0.007: AUC 0.887 -> 0.900, genre 0.348 -> 0.344, author 0.747 -> 0.764
    # (TF-IDF 0.798 / 0.343 / 0.758). Either weighting alone trades genre against author; more updates (batch 512,
    # lr 0.02) overfit. No better: a larger initial Dense scale, 30/80 epochs, ratio 8 or rising 2->6, positive
    # power 0.5/1 or idf weights, negative power 0.5/0.75, embedding init scale 0.01/0.15/0.5.
    # None: derived from the data (default_epochs): a budget of about UPDATE_BUDGET optimizer steps, which is the
    # measured 50 epochs on the 1,780-book sample (62 steps an epoch) and 9 on goodbooks (350 steps an epoch) instead
    # of 50 constant epochs that took 310 s a model there (issue 9). The served ranking's TF-IDF half
    # (embeddings/hybrid.py) carries the explicit shared-link evidence that longer training only slowly learns.
    # Negatives by (books using the link) ** 0.5 instead of 0.25 (issue 9, Wikipedia sample, seeds 1/2/3): link
    # AUC 0.897/0.904/0.904 -> 0.899/0.905/0.906, higher on every seed, the book metrics unchanged. On seed 1 only,
    # no better than 0.899 (within the seeds' spread): ratio 2/4/5, 25/35/60/80 epochs, dim 128, lr 0.004/0.01,
    # batch 2048, positive power 0/0.5, final lr 2%/20%, negative power 0/0.75; dim 384 gave 0.901/0.905/0.907
    # (+0.001, within the spread, for 1.5x the memory of every served vector), min_link_count 3 0.908 (by dropping
    # the two-book links, which are the authors' and series' shared links). Also on seed 1 (2026-12-06): positive
    # power 0.375 0.898, negative power 0.625 0.897, ratio 3.5 0.900. On seed 1 (2026-12-07): negatives drawn a
    # quarter / half uniformly over the used links and the rest by popularity 0.898 / 0.897, regression 0.871,
    # dim 320 0.900, each updated row renormalised to norm 1 / 0.5 0.897 / 0.896, the vectors averaged over the last
    # half / fifth of the epochs 0.899 / 0.899; min_link_count 3 0.907, but the
    # served author recall falls 0.834 -> 0.771 (TF-IDF's with it, 0.757 -> 0.666: the target would be met by
    # serving worse recommendations). Also on seed 1 (2026-12-07, options tried on a branch and not kept; 4 decimals,
    # today 0.8993): the link table's learning rate x0.5/1.5/2/3 0.8989/0.8994/0.8995/0.8995, the tables' Adam beta_2
    # 0.99/0.98 0.8995/0.8997, beta_1 0/0.5 0.9000/0.9000, epsilon 1e-3/1e-4/1e-5 0.582/0.8905/0.8983 and
    # 1e-8/1e-9/1e-12 0.9001/0.9003/0.9004 (on seeds 1/2/3 1e-9 0.9003/0.9050/0.9062 and 1e-12 0.9004/0.9050/0.9062
    # against 0.8993/0.9048/0.9062: seed 3 unchanged, within the spread), a quarter / half of the negatives
    # corrupting the book instead (the link of a positive of the same batch) 0.8979/0.8977, links initialised at
    # their training books' mean 0.8995 or at 0.2x the scale 0.9002 (seeds 2/3 0.9050/0.9063, unchanged), with
    # epsilon 1e-9 0.8996, link weight decay 1/5 0.8987/0.8970, a fixed cosine weight 3/10/15 (learned: 5.2-6.0)
    # 0.8952/0.8864/0.8722, embedding dropout 0.2 0.8977, negatives' books by (their links) ** 0.5 / -0.5
    # 0.8893/0.8954 (held-out pairs sit on books with many links, which score higher with any link). Moving each
    # one-training-book link's vector half way to its book's after training gave 0.906/0.913/0.915, but only
    # because such links exist only in the evaluation split (a served model's links have >= 2 books) and a fifth of
    # their scored pairs are held-out ones (a tenth overall): ranked among themselves they got worse (seed 1: 0.859 ->
    # 0.838), so it was not kept. On six seeds (2026-12-07, by hand through train_quality.run_seed, 5 decimals) the
    # default gives 0.89931/0.90481/0.90615/0.89961/0.90459/0.89848 (mean 0.9022 +- 0.0031: three of six under
    # 0.90) and Adam's epsilon 1e-8 (patched into SparseAdamStep, not kept)
    # 0.90010/0.90494/0.90621/0.89968/0.90443/0.89848, the book metrics unchanged: the smaller epsilon lifts seed 1
    # alone, and the AUC sits at 0.90 whatever the seed. Dim 128 (train_quality.py --set dim=128, both sources, seeds
    # 1-3): the served book metrics as at 256 (Wikipedia genre 0.352, author 0.827, series 0.945; goodbooks author
    # 0.778, series 0.913) and link AUC 0.897/0.899/0.904 and 0.990: half of every served vector and of each search's
    # scan, for about 0.003 of Wikipedia AUC. Since 2026-12-07 the served link score adds the TF-IDF neighbours'
    # votes to this cosine (embeddings/link_votes.py): served link AUC 0.902/0.907/0.908 on seeds 1-3 and
    # 0.902/0.907/0.900 on seeds 4-6 (train_quality.py), the embedding's own as above.
    epochs: int | None = None
    dim: int = 256
    negative_ratio: float = 3.0
    mode: str = "classification"
    min_link_count: int | None = None  # None: dataset.default_min_link_count(n_books)
    batch_positives: int = 1024
    learning_rate: float = 0.007  # of the first epoch; see lr_schedule
    seed: int = 42
    negative_sampling: str = "popularity"  # or "uniform": links drawn by (books using them) ** popularity_power
    popularity_power: float = 0.5
    # "power": each epoch's positives drawn (systematic resampling) by (books using the link) ** -positive_power;
    # "uniform": every pair once an epoch; "idf": by log(1 + n_books / books using the link). See batches.py.
    positive_sampling: str = "power"
    positive_power: float = 0.25
    deterministic: bool = True  # TF op determinism: same seed, same vectors
    # "cosine": the learning rate falls from learning_rate (epoch 1) to final_lr_fraction of it (last epoch)
    # along half a cosine; "constant": learning_rate throughout.
    lr_schedule: str = "cosine"
    final_lr_fraction: float = 0.05
    # The UMAP map as the run's last phase. Off only for quick runs (the tests' small models): a version without
    # a map is served as usual, and `manage.py project_version` can add one later.
    draw_map: bool = True

    def resolved(self, n_pairs: int) -> "TrainParams":
        """These parameters with epochs filled in from the number of training pairs when left to the default."""
        if self.epochs is not None:
            return self
        return replace(self, epochs=default_epochs(n_pairs, self.batch_positives))

    def learning_rate_at(self, epoch: int) -> float:
        """The learning rate of epoch 1..epochs."""
        if self.lr_schedule == "constant":
            return self.learning_rate
        if self.lr_schedule != "cosine":
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', not {self.lr_schedule!r}")
        progress = (epoch - 1) / max(1, (self.epochs or 1) - 1)
        floor = self.final_lr_fraction
        return self.learning_rate * float(floor + (1.0 - floor) * 0.5 * (1.0 + np.cos(np.pi * progress)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainParams":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known})
