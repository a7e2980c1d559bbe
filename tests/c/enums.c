/* C callers may store any int in an enum argument or field (C++ cannot form
 * most of these values without undefined behaviour, so this test is C): the
 * C API names the argument and never reads past an array with it. */
#include <stdio.h>
#include <string.h>

#include "simdrnn/simdrnn.h"

static int failures = 0;

static void expect(int ok, const char* what) {
  if (!ok) {
    printf("FAILED: %s (last error: %s)\n", what, simdrnn_last_error());
    failures++;
  }
}

int main(void) {
  const int bad[] = {-7, -1, 8, 99, 1 << 30};
  simdrnn_isa before = simdrnn_active_isa();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    expect(!strcmp(simdrnn_status_name((simdrnn_status)bad[i]), "unknown"), "simdrnn_status_name");
    expect(!strcmp(simdrnn_isa_name((simdrnn_isa)bad[i]), "unknown"), "simdrnn_isa_name");
    expect(simdrnn_set_max_isa((simdrnn_isa)bad[i]) == SIMDRNN_INVALID_ARGUMENT &&
               strstr(simdrnn_last_error(), "isa") != NULL,
           "simdrnn_set_max_isa");
    expect(simdrnn_active_isa() == before, "the ISA cap is unchanged");

    simdrnn_config c = simdrnn_config_default();
    simdrnn_weights* w = NULL;
    c.input_size = 3;
    c.hidden_size = 4;
    c.activation = (simdrnn_activation)bad[i];
    expect(simdrnn_weights_create(&c, &w) == SIMDRNN_INVALID_ARGUMENT && w == NULL &&
               strstr(simdrnn_last_error(), "activation") != NULL,
           "config.activation");
    c = simdrnn_config_default();
    c.input_size = 3;
    c.hidden_size = 4;
    c.cell = (simdrnn_cell)bad[i];
    expect(simdrnn_weights_create(&c, &w) == SIMDRNN_INVALID_ARGUMENT && w == NULL &&
               strstr(simdrnn_last_error(), "cell") != NULL,
           "config.cell");
    c = simdrnn_config_default();
    c.input_size = 3;
    c.hidden_size = 4;
    c.weight_precision = (simdrnn_precision)bad[i];
    expect(simdrnn_weights_create(&c, &w) == SIMDRNN_INVALID_ARGUMENT && w == NULL &&
               strstr(simdrnn_last_error(), "weight_precision") != NULL,
           "config.weight_precision");
  }
  printf("%s: out-of-range enum values from C\n", failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
