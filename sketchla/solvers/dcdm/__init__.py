"""The deep conjugate direction method (Kaneda, Akar, Chen, Trevino Kala, Hyde & Teran, ICML
2023): conjugate directions proposed by a network from the residual. The solve loop is here;
the network, its training and the packaged models are to come."""

from .solve import dcdm_solve

__all__ = ["dcdm_solve"]
