// The launch environment of a distributed run: torchrun's variables, SLURM's (with the first
// host of a compressed node list), their precedence, and the errors for malformed values.
#include "launch_environment.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using mdlab::launch_environment;

namespace {

mdlab::EnvironmentLookup lookup_in(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST_CASE("torchrun's variables describe the rank", "[distributed]") {
  auto env = launch_environment(lookup_in({{"WORLD_SIZE", "4"},
                                           {"RANK", "3"},
                                           {"LOCAL_RANK", "1"},
                                           {"MASTER_ADDR", "node7"},
                                           {"MASTER_PORT", "29511"}}));
  REQUIRE(env);
  CHECK(env->rank == 3);
  CHECK(env->world_size == 4);
  CHECK(env->local_rank == 1);
  CHECK(env->master_addr == "node7");
  CHECK(env->port == 29511);
  CHECK(env->source == "torchrun");
  // One process, or no launcher: not distributed.
  CHECK_FALSE(launch_environment(
      lookup_in({{"WORLD_SIZE", "1"}, {"RANK", "0"}, {"MASTER_PORT", "29500"}})));
  CHECK_FALSE(launch_environment(lookup_in({})));
}

TEST_CASE("SLURM's variables and node list describe the rank", "[distributed]") {
  auto env = launch_environment(lookup_in({{"SLURM_NTASKS", "16"},
                                           {"SLURM_PROCID", "9"},
                                           {"SLURM_LOCALID", "1"},
                                           {"SLURM_JOB_NODELIST", "gpu[03-05,09],cpu1"},
                                           {"SLURM_JOB_ID", "123456"}}));
  REQUIRE(env);
  CHECK(env->rank == 9);
  CHECK(env->world_size == 16);
  CHECK(env->local_rank == 1);
  CHECK(env->master_addr == "gpu03");
  CHECK(env->port == 15000 + 123456 % 20000);
  CHECK(env->source == "slurm");
  CHECK(mdlab::first_slurm_host("node12") == "node12");
  CHECK(mdlab::first_slurm_host("a1,b[2-3]") == "a1");
  CHECK(mdlab::first_slurm_host("rack1-n[007,010-012]") == "rack1-n007");
  // torchrun inside an srun allocation: its variables win.
  auto both = launch_environment(lookup_in({{"SLURM_NTASKS", "2"},
                                            {"SLURM_PROCID", "1"},
                                            {"SLURM_JOB_NODELIST", "n1"},
                                            {"WORLD_SIZE", "8"},
                                            {"RANK", "5"},
                                            {"MASTER_ADDR", "n1"},
                                            {"MASTER_PORT", "29500"}}));
  REQUIRE(both);
  CHECK(both->world_size == 8);
  CHECK(both->rank == 5);
}

TEST_CASE("malformed launch variables are named", "[distributed][errors]") {
  CHECK_THROWS_WITH(
      launch_environment(lookup_in(
          {{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}})),
      Catch::Contains("rank 2 (RANK) is not in [0, 2)"));
  CHECK_THROWS_WITH(launch_environment(lookup_in({{"WORLD_SIZE", "two"}})),
                    Catch::Contains("WORLD_SIZE=\"two\" is not a whole number"));
  CHECK_THROWS_WITH(
      launch_environment(lookup_in({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "1"}})),
      Catch::Contains("MASTER_ADDR is not set"));
  CHECK_THROWS_WITH(
      launch_environment(lookup_in(
          {{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})),
      Catch::Contains("MASTER_PORT 70000 is not a TCP port"));
  CHECK_THROWS_WITH(launch_environment(lookup_in({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}})),
                    Catch::Contains("SLURM_JOB_NODELIST"));
  CHECK_THROWS_WITH(mdlab::first_slurm_host("gpu[03-05"), Catch::Contains("no closing ]"));
}
