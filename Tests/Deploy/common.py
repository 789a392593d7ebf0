"""What the deploy checks share: a list of problems, each naming its file (and line or path), and
the exit status that reports them."""

import sys


class Problems:
    def __init__(self, subject):
        self.subject = subject
        self.found = []

    def add(self, where, message):
        self.found.append(f"{where}: {message}")

    def check(self, condition, where, message):
        if not condition:
            self.add(where, message)
        return condition

    def finish(self):
        """Prints every problem and exits 1, or prints that the subject passed and returns."""
        if self.found:
            print(f"{self.subject}: {len(self.found)} problem(s):", file=sys.stderr)
            for problem in self.found:
                print(f"  {problem}", file=sys.stderr)
            sys.exit(1)
        print(f"{self.subject}: ok")


def load_yaml_documents(path, problems):
    """Every document of a YAML file, or None (with the parse error as a problem)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as file:
            return [document for document in yaml.safe_load_all(file) if document is not None]
    except (OSError, yaml.YAMLError) as error:
        problems.add(path, f"cannot be read as YAML: {error}")
        return None
