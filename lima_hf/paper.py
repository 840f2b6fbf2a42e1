"""The LIMA paper (Zhou et al., 2023): its address and BibTeX, quoted by every card lima-hf writes."""

PAPER_URL = "https://arxiv.org/abs/2305.11206"
PAPER_TITLE = "LIMA: Less Is More for Alignment"

CITATION = """@inproceedings{zhou2023lima,
  title     = {{LIMA}: Less Is More for Alignment},
  author    = {Zhou, Chunting and Liu, Pengfei and Xu, Puxin and Iyer, Srini and Sun, Jiao and Mao, Yuning and
               Ma, Xuezhe and Efrat, Avia and Yu, Ping and Yu, Lili and Zhang, Susan and Ghosh, Gargi and
               Lewis, Mike and Zettlemoyer, Luke and Levy, Omer},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = {2023},
  url       = {https://arxiv.org/abs/2305.11206}
}"""
