import sys

from genen_scale.predict.cli import predict_main

sys.exit(predict_main())
