"""Submit caffeine to every built-in model, then poll one job and watch another.

    MODELGW_TOKEN=$(.venv/bin/modelgw token create --user alice) .venv/bin/python docs/examples/caffeine.py
"""

import os

import grpc
from google.protobuf import json_format, struct_pb2

from modelgateway.v1 import execution_pb2, execution_pb2_grpc, job_pb2

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
MODELS = ["rdkit.logp", "rdkit.tpsa", "rdkit.mol-weight", "rdkit.qed", "rdkit.esol", "rdkit.pains"]

metadata = [("authorization", f"Bearer {os.environ['MODELGW_TOKEN']}")]
channel = grpc.insecure_channel(os.environ.get("MODELGW_EXECUTION", "127.0.0.1:50052"))
jobs = execution_pb2_grpc.ExecutionServiceStub(channel)

record = struct_pb2.Struct()
record.update({"smiles": CAFFEINE})

# Submit: the job UUID comes back at once; the job waits in the model's queue.
submitted = {
    model: jobs.SubmitJob(
        execution_pb2.SubmitJobRequest(model=model, records=[record]), metadata=metadata
    ).job
    for model in MODELS
}

# Watch: the stream pushes every status change and ends after the final one.
for model, job in submitted.items():
    for message in jobs.WatchJob(execution_pb2.WatchJobRequest(id=job.id), metadata=metadata):
        if message.heartbeat:
            continue
        status = job_pb2.JobStatus.Name(message.job.status)
        if message.job.status == job_pb2.JOB_STATUS_SUCCEEDED:
            output = json_format.MessageToDict(message.job.results[0].output)
            print(f"{model:18} {status:22} {output}")

# Poll: GetJob returns the job with its results once it has finished.
polled = jobs.GetJob(execution_pb2.GetJobRequest(id=submitted["rdkit.logp"].id), metadata=metadata).job
print("polled", polled.id, job_pb2.JobStatus.Name(polled.status), polled.results[0].output["logp"])
