"""Trust in the list (issue 9): the benign list, the review queue, the audit log, decoy feedback."""
