#!/usr/bin/env python
from wangge.manage import main

if __name__ == "__main__":
    main()
