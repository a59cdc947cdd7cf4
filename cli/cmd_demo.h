/*
 * cmd_demo.h - `ledger demo`, the README's demonstration (see cmd_demo.c).
 */
#ifndef LEDGER_CMD_DEMO_H
#define LEDGER_CMD_DEMO_H

/* argv[0] is "demo". Returns an exit code of SPEC section 8. */
int cmd_demo(int argc, char **argv);

#endif
