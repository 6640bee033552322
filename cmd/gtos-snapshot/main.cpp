// gtos-snapshot: placeholder until the tool lands (issue 5).
int main() { return 1; }
