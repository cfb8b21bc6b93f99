"""Pure decisions of the create-flow-run rules: no I/O, one module per rule family."""
