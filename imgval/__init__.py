"""imgval: validate batches of image files for digitisation and archives teams."""

__version__ = "0.1.0"
