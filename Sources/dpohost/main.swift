import TensorCore
print("dpohost")
