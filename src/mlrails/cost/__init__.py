"""What an environment costs: a dated table of us-east-1 list prices (``prices``), the
synthesized CloudFormation templates read from a cloud assembly (``assembly``), the monthly
cost of what is billed by the hour whether used or not (``idle``), and the cost of one
training run and of a million predictions (``usage``). Pure: files in, figures out; no AWS
call, no credentials."""
