module lambdalab.example/goruntime

go 1.19
